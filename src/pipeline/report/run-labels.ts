/** Naming several run directories: their common parent, and short unique labels. */
import { basename, relative, resolve } from "node:path"

/** The deepest directory that holds all of `dirs` (absolute). */
export const commonParent = (dirs: ReadonlyArray<string>): string => {
  const absolute = dirs.map((d) => resolve(d))
  let common = resolve(absolute[0] ?? ".", "..")
  while (!absolute.every((d) => d.startsWith(`${common}/`)) && common !== "/") common = resolve(common, "..")
  return common
}

/** Short unique labels: the directory names, or paths from their common parent when two share a name. */
export const labelsOf = (dirs: ReadonlyArray<string>): Array<string> => {
  const names = dirs.map((d) => basename(resolve(d)))
  if (new Set(names).size === names.length) return names
  const common = commonParent(dirs)
  return dirs.map((d) => relative(common, resolve(d)))
}
