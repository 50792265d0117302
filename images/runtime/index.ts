/** The shared server runtime every role image bundles; see images/README.md. */
export * from "./config";
export * from "./log";
export * from "./management";
export * from "./shutdown";
export * from "./tls";
export * from "./listen";
export * from "./bootstrap";
export * from "./httpServers";
