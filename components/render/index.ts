/** The datacenter drawing (see README.md): model builders and the SVG renderer. */
export * from "./model";
export * from "./svg";
