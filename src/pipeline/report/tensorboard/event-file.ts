/**
 * TensorBoard event files, written without TensorFlow.
 *
 * An event file is a sequence of TFRecords
 * (tensorflow/core/lib/io/record_writer.cc):
 *
 *   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes |
 *   data | uint32 masked CRC-32C of data
 *
 * where data is one serialized `Event` (tensorflow/core/util/event.proto) and
 * mask(crc) = ((crc >>> 15) | (crc << 17)) + 0xa282ead8
 * (tensorflow/core/lib/hash/crc32c.h). The first event of a file holds
 * `file_version: "brain.Event:2"`; the others hold a `Summary`
 * (tensorflow/core/framework/summary.proto) of scalars (`simple_value`),
 * images (`Summary.Image`, PNG bytes) or text (a string tensor tagged for the
 * "text" plugin, tensorboard/plugins/text/metadata.py), or a `SessionLog`.
 *
 * The messages are the subset of those .proto files that this writer uses,
 * with TensorFlow's field numbers; protobufjs encodes them and
 * @aws-crypto/crc32c computes the checksums.
 */
import { crc32c } from "@aws-crypto/crc32c"
import protobuf from "protobufjs"

const PROTO = `
syntax = "proto3";
package tensorflow;

message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
    SessionLog session_log = 7;
  }
}

message SessionLog {
  enum SessionStatus { STATUS_UNSPECIFIED = 0; START = 1; STOP = 2; CHECKPOINT = 3; }
  SessionStatus status = 1;
  string checkpoint_path = 2;
  string msg = 3;
}

message Summary {
  message Image {
    int32 height = 1;
    int32 width = 2;
    int32 colorspace = 3;
    bytes encoded_image_string = 4;
  }
  message Value {
    string tag = 1;
    SummaryMetadata metadata = 9;
    oneof value {
      float simple_value = 2;
      Image image = 4;
      TensorProto tensor = 8;
    }
  }
  repeated Value value = 1;
}

message SummaryMetadata {
  message PluginData {
    string plugin_name = 1;
    bytes content = 2;
  }
  PluginData plugin_data = 1;
  string display_name = 2;
  string summary_description = 3;
}

message TensorShapeProto {
  message Dim { int64 size = 1; string name = 2; }
  repeated Dim dim = 2;
}

message TensorProto {
  int32 dtype = 1;
  TensorShapeProto tensor_shape = 2;
  repeated bytes string_val = 8;
}
`

const root = protobuf.parse(PROTO).root
const EventType = root.lookupType("tensorflow.Event")

/** tensorflow/core/framework/types.proto */
const DT_STRING = 7
const SESSION_START = 1

export interface ImageSummary {
  /** PNG (or GIF) bytes */
  readonly encoded: Uint8Array
  readonly width: number
  readonly height: number
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA */
  readonly channels: number
}

const masked = (crc: number): number => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0

/** One TFRecord around `data`. */
export const frameRecord = (data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(8 + 4 + data.length + 4)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(data.length), true)
  view.setUint32(8, masked(crc32c(out.subarray(0, 8))), true)
  out.set(data, 12)
  view.setUint32(12 + data.length, masked(crc32c(data)), true)
  return out
}

const eventRecord = (event: Record<string, unknown>): Uint8Array =>
  frameRecord(EventType.encode(EventType.fromObject(event)).finish())

const seconds = (date: Date): number => date.getTime() / 1000

/** The first record of every event file. */
export const fileVersionRecord = (at: Date): Uint8Array =>
  eventRecord({ wallTime: seconds(at), fileVersion: "brain.Event:2" })

/**
 * A session start at `step`: TensorBoard's reader drops every event of a
 * step ≥ `step` read before it (EventAccumulator's orphaned-data purge), so
 * a resumed run's repeated iterations replace those of the killed one.
 */
export const sessionStartRecord = (step: number, at: Date): Uint8Array =>
  eventRecord({ wallTime: seconds(at), step, sessionLog: { status: SESSION_START } })

/** Scalars of one step; non-finite and null values are left out. */
export const scalarsRecord = (
  step: number,
  at: Date,
  scalars: Readonly<Record<string, number | null>>,
): Uint8Array =>
  eventRecord({
    wallTime: seconds(at),
    step,
    summary: {
      value: Object.entries(scalars)
        .filter((entry): entry is [string, number] => entry[1] !== null && Number.isFinite(entry[1]))
        .map(([tag, simpleValue]) => ({ tag, simpleValue })),
    },
  })

export const imageRecord = (step: number, at: Date, tag: string, image: ImageSummary): Uint8Array =>
  eventRecord({
    wallTime: seconds(at),
    step,
    summary: {
      value: [
        {
          tag,
          image: {
            height: image.height,
            width: image.width,
            colorspace: image.channels,
            encodedImageString: image.encoded,
          },
        },
      ],
    },
  })

/** Text shown by TensorBoard's Text dashboard (rendered as Markdown). */
export const textRecord = (step: number, at: Date, tag: string, markdown: string): Uint8Array =>
  eventRecord({
    wallTime: seconds(at),
    step,
    summary: {
      value: [
        {
          tag,
          metadata: { pluginData: { pluginName: "text" } },
          tensor: {
            dtype: DT_STRING,
            tensorShape: {},
            stringVal: [new TextEncoder().encode(markdown)],
          },
        },
      ],
    },
  })

/**
 * TensorBoard reads the files whose names contain "tfevents", in name order;
 * `events.out.tfevents.<seconds, 10 digits>.<host>.<pid>.<n>` as
 * tensorflow/core/util/events_writer.cc and tensorboardX name them.
 */
export const eventFileName = (at: Date, host: string, pid: number, sequence = 0): string =>
  `events.out.tfevents.${String(Math.floor(seconds(at))).padStart(10, "0")}.${host.replace(/[^A-Za-z0-9._-]/g, "_")}.${pid}.${sequence}`
