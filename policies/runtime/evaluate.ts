/** Moved to components/compliance/evaluate.ts; re-exported for existing imports. */
export * from "../../components/compliance/evaluate";
