/**
 * The ffmpeg binary that the npm package `@ffmpeg-installer/ffmpeg` ships for
 * this platform (nothing is downloaded at run time): it decodes video files
 * (../data/video.ts) and writes MP4s (../run-dir/video-files.ts).
 */
import { createRequire } from "node:module"

/** Path of the binary, loaded on first use; throws an Error whose message says what to do. */
export const ffmpegPath = (): string => {
  try {
    const installer = createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string }
    return installer.path
  } catch (error) {
    const reason = String(error instanceof Error ? error.message : error)
      .split("\n")
      .map((l) => l.trim().replace(/:$/, ""))
      .filter((l) => l.length > 0)
      .join("; ")
    throw new Error(
      `no ffmpeg binary for this platform (${process.platform}-${process.arch}): ${reason}. Reinstall dependencies (\`npm ci\`), or give the clip as an animated GIF or a folder of frame images, which need no ffmpeg.`,
    )
  }
}
