// Creates or updates the one pull-request comment of a stack, run by actions/github-script.
// The comment is found by its hidden marker (the first line of the body rendered by
// `serverpark pr-comment`) across *all* pages of comments, so a busy PR never gets a second
// copy, and each stack of a matrix job only ever touches its own comment.
"use strict";

const MARKER = /^<!-- serverpark-preview stack=[A-Za-z0-9_.-]+ -->$/;

/**
 * @param {{ github: any, context: any, body: string, log?: (line: string) => void }} args
 * @returns {Promise<{ action: "created" | "updated" | "unchanged", id: number, removed: number[] }>}
 */
async function upsertComment({ github, context, body, log = () => {} }) {
  const marker = body.split("\n", 1)[0];
  if (!MARKER.test(marker)) throw new Error(`the comment body does not start with a serverpark marker (got ${JSON.stringify(marker.slice(0, 80))})`);
  const { owner, repo } = context.repo;
  const issue_number = context.issue.number;
  const comments = await github.paginate(github.rest.issues.listComments, { owner, repo, issue_number, per_page: 100 });
  // Only comments whose first line is exactly our marker: a human quoting the marker does not count.
  const ours = comments.filter((c) => typeof c.body === "string" && c.body.split("\n", 1)[0] === marker).sort((a, b) => a.id - b.id);
  const removed = [];
  // Earlier runs that raced may have left copies: keep the oldest, delete the others.
  for (const extra of ours.slice(1)) {
    await github.rest.issues.deleteComment({ owner, repo, comment_id: extra.id });
    removed.push(extra.id);
  }
  const existing = ours[0];
  if (!existing) {
    const { data } = await github.rest.issues.createComment({ owner, repo, issue_number, body });
    log(`created comment ${data.id} (${marker})`);
    return { action: "created", id: data.id, removed };
  }
  if (existing.body === body) {
    log(`comment ${existing.id} unchanged (${marker})`);
    return { action: "unchanged", id: existing.id, removed };
  }
  await github.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body });
  log(`updated comment ${existing.id} (${marker})`);
  return { action: "updated", id: existing.id, removed };
}

module.exports = upsertComment;
module.exports.upsertComment = upsertComment;
