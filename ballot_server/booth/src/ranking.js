// What a well-formed ranking or grading is, for the booth's screen (no DOM).
//
// A ranked question's row gives every option a rank 1..k or 0 (unranked); a
// graded row gives every option a grade 0..G-1 (worst first).  The ballot's
// proofs only bound each value (docs/protocol-ballots.md §1.3): a repeated
// rank or a gap cannot be proved away cheaply, and the counting rule decides
// what such a ranking counts as.  The booth goes further than the proofs and
// does not let its voter send one: a ranking here must use the ranks 1..m
// once each, for some m (m = 0 is a blank ranking, allowed as a blank choice
// question is).  These functions say what is wrong, for the screen to show.

/**
 * The first thing wrong with a ranking `values` of a question of k options,
 * or null.  `final`: also report a gap (shown once the voter pressed Review,
 * so a voter who fills in 2nd before 1st is not scolded half-way).
 *
 *   {reason: 'value', option}          not an integer 0..k
 *   {reason: 'repeat', rank, options}  rank given to several options (indices)
 *   {reason: 'gap', missing, next}     no option has rank `missing`, one has `next` > missing
 */
export function rankingProblem(values, k, { final = true } = {}) {
  if (!Array.isArray(values) || values.length !== k) return { reason: 'value', option: null };
  const holders = new Map();
  for (const [o, v] of values.entries()) {
    if (!Number.isInteger(v) || v < 0 || v > k) return { reason: 'value', option: o };
    if (v === 0) continue;
    if (!holders.has(v)) holders.set(v, []);
    holders.get(v).push(o);
  }
  const ranks = [...holders.keys()].sort((a, b) => a - b);
  for (const rank of ranks) {
    const options = holders.get(rank);
    if (options.length > 1) return { reason: 'repeat', rank, options };
  }
  if (final) {
    for (const [i, rank] of ranks.entries()) {
      if (rank !== i + 1) return { reason: 'gap', missing: i + 1, next: rank };
    }
  }
  return null;
}

/** The option indices in rank order (1st first); unranked options are left out. */
export function rankedOrder(values) {
  return values.map((v, o) => [v, o]).filter(([v]) => v > 0).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, o]) => o);
}

/** The first grade outside 0..G-1 in a graded row of k options, or null. */
export function gradingProblem(values, k, gradeCount) {
  if (!Array.isArray(values) || values.length !== k) return { reason: 'value', option: null };
  for (const [o, v] of values.entries()) {
    if (!Number.isInteger(v) || v < 0 || v >= gradeCount) return { reason: 'value', option: o };
  }
  return null;
}
