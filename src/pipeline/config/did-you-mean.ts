/** "Did you mean …?" for a mistyped field name: the closest known name within a few edits. */

/** Levenshtein distance (insertions, deletions, substitutions), case-insensitive. */
export const editDistance = (a: string, b: string): number => {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  let previous = Array.from({ length: t.length + 1 }, (_, j) => j)
  for (let i = 1; i <= s.length; i++) {
    const current = [i]
    for (let j = 1; j <= t.length; j++)
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1),
      )
    previous = current
  }
  return previous[t.length] as number
}

/** The known name nearest to `word`, if it is within max(2, a third of its length) edits. */
export const closest = (word: string, known: Iterable<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const candidate of known) {
    const d = editDistance(word, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return best
}
