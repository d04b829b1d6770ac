/**
 * Fault injection at the FileSystem layer (the writer and everything else in
 * a run write through Effect's FileSystem service): a disk that holds
 * `capacity` bytes of writes. The write that overflows it writes what still
 * fits, then fails with ENOSPC, as a full disk does; removals give nothing
 * back (another process is filling the disk). `written()` tells how many
 * bytes went to disk, so a test can measure a whole run first.
 */
import { Effect, FileSystem, Layer, PlatformError } from "effect"

export interface FaultyDisk {
  readonly layer: Layer.Layer<FileSystem.FileSystem, never, FileSystem.FileSystem>
  readonly written: () => number
}

const noSpace = (path: string) =>
  PlatformError.systemError({
    _tag: "Unknown",
    module: "FileSystem",
    method: "writeFile",
    pathOrDescriptor: path,
    syscall: "write",
    cause: Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: "ENOSPC" }),
  })

export const faultyDisk = (capacity: number): FaultyDisk => {
  let used = 0
  return {
    written: () => used,
    layer: Layer.effect(
      FileSystem.FileSystem,
      Effect.gen(function* () {
        const real = yield* FileSystem.FileSystem
        return FileSystem.make({
          ...real,
          writeFile: (path, data, options) => {
            const room = Math.max(0, capacity - used)
            if (data.length <= room) {
              used += data.length
              return real.writeFile(path, data, options)
            }
            used = capacity
            // what fits is written, then the disk is full
            return real
              .writeFile(path, data.subarray(0, room), options)
              .pipe(Effect.andThen(Effect.fail(noSpace(path))))
          },
        })
      }),
    ),
  }
}
