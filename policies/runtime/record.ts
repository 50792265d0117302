/**
 * Moved to components/compliance/record.ts (it must load the same @pulumi/pulumi as the
 * program, which a policies/node_modules would shadow); re-exported for existing imports.
 */
export * from "../../components/compliance/record";
