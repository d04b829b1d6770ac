/** A whole file written under a temporary name, then renamed over the old one: readers see the old or the new file, never half of one. */
import { mkdir, rename, rm, writeFile } from "node:fs/promises"
import { dirname } from "node:path"

export const writeFileAtomic = async (file: string, data: string | Uint8Array): Promise<void> => {
  await mkdir(dirname(file), { recursive: true })
  const temporary = `${file}.tmp-${process.pid}`
  try {
    await writeFile(temporary, data)
    await rename(temporary, file)
  } catch (e) {
    await rm(temporary, { force: true })
    throw e
  }
}
