/**
 * Evidence from what runs: a small, stable JSON record that a command writes after a real run
 * against a deployed stack or its servers (`serverpark chaos --evidence <dir>`; the restore
 * drill, test/e2e/backup-restore.e2e.test.ts with SP_EVIDENCE_DIR; `npm run bench -- fuzz
 * --evidence <dir>`), and that
 * `serverpark compliance <stack> --evidence <dir>` reads to mark the Annex A controls the run
 * proves. One file per run:
 *
 * ```json
 * { "format": "serverpark-evidence/v1", "kind": "chaos", "date": "2026-12-06T06:10:00.000Z",
 *   "stack": "local", "stackHash": "sha256:…", "result": "pass",
 *   "controls": ["A.5.29", "A.5.30"], "summary": "…", "details": {…} }
 * ```
 *
 * `stackHash` is the SHA-256 of the stack file's bytes the run used. A run proves a control
 * only for the stack version it ran on and only for `maxAgeDays` after it ran: evidence from
 * an older stack file or older than that is `stale`, never `pass`. The report trusts a file's
 * `controls` only where its kind is known to prove them (EVIDENCE_KINDS), so a hand-written
 * file cannot claim a control its kind does not exercise.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const EVIDENCE_FORMAT = "serverpark-evidence/v1";
export const DEFAULT_MAX_AGE_DAYS = 30;

/** What each kind of run proves, and which command writes it. */
export const EVIDENCE_KINDS = {
  chaos: {
    controls: ["A.5.29", "A.5.30"],
    title: "chaos run",
    producer: "serverpark chaos <stack> --scenario … --evidence <dir>",
    proves:
      "power cuts played against the running datacenter killed and restarted real containers, and every service's measured downtime matched the power model's prediction within tolerance (ICT continuity exercised, not only planned)",
  },
  fuzz: {
    controls: ["A.8.29"],
    title: "fuzz run",
    producer: "npm run bench -- fuzz [count] --evidence <dir> [--stack <stack>]",
    proves:
      "every protocol server of the stack's roles that has a fuzzer was fed generated hostile and malformed inputs over real sockets without a crash, a hang or memory beyond its bound (security testing of what the stack deploys)",
  },
  restore: {
    controls: ["A.8.13"],
    title: "restore drill",
    producer: "SP_EVIDENCE_DIR=<dir> vitest run --project e2e test/e2e/backup-restore.e2e.test.ts",
    proves:
      "a stateful replica's container and its data and backup volumes were removed, the replica rebuilt as deployed, and its latest backup restored from the store on its declared backup target host, the data read back with a real client (backups are restorable off the host, not only taken)",
  },
} as const;
export type EvidenceKind = keyof typeof EVIDENCE_KINDS;

const EvidenceSchema = z.object({
  format: z.literal(EVIDENCE_FORMAT),
  kind: z.string().min(1),
  date: z.string().datetime({ offset: true }),
  stack: z.string().min(1),
  stackHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  result: z.enum(["pass", "fail"]),
  controls: z.array(z.string().regex(/^A\.\d+\.\d+$/)),
  summary: z.string(),
  details: z.unknown().optional(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;

/** `sha256:<hex>` of a stack file's bytes. */
export function stackFileHash(path: string): string {
  return `sha256:${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
}

/** Writes one evidence file, named by kind, stack and date; returns its path. */
export function writeEvidence(dir: string, evidence: Evidence): string {
  const parsed = EvidenceSchema.parse(evidence);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${parsed.kind}-${parsed.stack}-${parsed.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(path, JSON.stringify(parsed, null, 2) + "\n");
  return path;
}

export interface EvidenceFile {
  readonly file: string;
  readonly evidence: Evidence;
}

/** Every `*.json` evidence file in `dir` (sorted by name); a file that is not evidence is an error, not skipped. */
export function readEvidenceDir(dir: string): EvidenceFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(join(dir, file), "utf8"));
      } catch (e) {
        throw new Error(`${file}: not JSON: ${(e as Error).message}`);
      }
      const result = EvidenceSchema.safeParse(raw);
      if (!result.success)
        throw new Error(`${file}: not ${EVIDENCE_FORMAT} evidence: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
      return { file, evidence: result.data };
    });
}

export type EvidenceResult = "pass" | "fail" | "stale";

/** The evidence a report shows for one control: the run that decides it. */
export interface EvidenceFinding {
  readonly kind: string;
  readonly title: string;
  readonly file: string;
  readonly date: string;
  /** The end of the run's validity (date + maxAgeDays). */
  readonly validUntil: string;
  readonly result: EvidenceResult;
  /** Why stale, or what the run showed. */
  readonly note: string;
}

export interface EvidenceJudgement {
  readonly stack: string;
  readonly stackHash: string;
  readonly maxAgeDays: number;
  /** Per control id, one finding per kind that proves it. */
  readonly byControl: ReadonlyMap<string, readonly EvidenceFinding[]>;
  /** Files for other stacks, ignored. */
  readonly otherStacks: readonly string[];
}

const DAY_MS = 86_400_000;

/**
 * For each kind of run and control it proves: the newest run on this stack's current file
 * within maxAgeDays decides (pass or fail); without one, the newest run for this stack name is
 * shown as stale with the reason.
 */
export function judgeEvidence(
  files: readonly EvidenceFile[],
  options: { readonly stack: string; readonly stackHash: string; readonly now: Date; readonly maxAgeDays?: number },
): EvidenceJudgement {
  const maxAgeDays = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  const mine = files.filter((f) => f.evidence.stack === options.stack);
  const byControl = new Map<string, EvidenceFinding[]>();
  for (const [kind, meta] of Object.entries(EVIDENCE_KINDS) as [EvidenceKind, (typeof EVIDENCE_KINDS)[EvidenceKind]][]) {
    for (const control of meta.controls) {
      const runs = mine
        .filter((f) => f.evidence.kind === kind && f.evidence.controls.includes(control))
        .sort((a, b) => Date.parse(b.evidence.date) - Date.parse(a.evidence.date));
      const judged = runs.map((f) => ({ f, ...staleness(f.evidence, options.stackHash, options.now, maxAgeDays) }));
      const decisive = judged.find((j) => j.reason === undefined) ?? judged[0];
      if (!decisive) continue;
      const { f, reason, validUntil } = decisive;
      const finding: EvidenceFinding = {
        kind,
        title: meta.title,
        file: f.file,
        date: f.evidence.date,
        validUntil,
        result: reason !== undefined ? "stale" : f.evidence.result,
        note: reason ?? f.evidence.summary,
      };
      byControl.set(control, [...(byControl.get(control) ?? []), finding]);
    }
  }
  const otherStacks = files.filter((f) => f.evidence.stack !== options.stack).map((f) => f.file);
  return { stack: options.stack, stackHash: options.stackHash, maxAgeDays, byControl, otherStacks };
}

function staleness(e: Evidence, stackHash: string, now: Date, maxAgeDays: number): { reason?: string; validUntil: string } {
  const at = Date.parse(e.date);
  const validUntil = new Date(at + maxAgeDays * DAY_MS).toISOString();
  if (e.stackHash !== stackHash)
    return { validUntil, reason: `ran on another version of the stack file (${e.stackHash.slice(0, 19)}…, now ${stackHash.slice(0, 19)}…); run it again` };
  if (at > now.getTime() + 5 * 60_000) return { validUntil, reason: `dated in the future (${e.date})` };
  if (now.getTime() - at > maxAgeDays * DAY_MS) return { validUntil, reason: `older than ${maxAgeDays} days (valid until ${validUntil}); run it again` };
  return { validUntil };
}
