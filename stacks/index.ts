/**
 * Program entry (Pulumi.yaml `main: stacks/`). One stack is one datacenter: its config lives
 * in stacks/Pulumi.<stack>.yaml under `serverpark:datacenter`.
 */
import { runProgram } from "../components/program";

const { datacenter } = runProgram();

export const domain = datacenter.domain;
export const endpoints = datacenter.endpoints;
export const addresses = datacenter.addresses;
export const undeployedServices = datacenter.undeployedServices;
/** The operator's management client certificate and key (secret), and the datacenter CA: `pulumi stack output operatorCredentials --show-secrets`. */
export const operatorCredentials = datacenter.operatorCredentials;
