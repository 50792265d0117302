/**
 * The FTPS contexts: the service certificate with TLS 1.2 as the oldest version accepted on
 * the control and data connections (explicitly, not by Node's default), built once per
 * certificate (a renewal gives a new material object, so a new context).
 */
import { createSecureContext, type SecureContext } from "node:tls";
import type { ReloadingTls, TlsMaterial } from "../../../runtime/tls";

export const MIN_TLS_VERSION = "TLSv1.2";

const contexts = new WeakMap<TlsMaterial, SecureContext>();

export function ftpsContext(tls: ReloadingTls): SecureContext {
  const material = tls.material();
  let context = contexts.get(material);
  if (!context) {
    context = createSecureContext({ cert: material.cert, key: material.key, minVersion: MIN_TLS_VERSION });
    contexts.set(material, context);
  }
  return context;
}
