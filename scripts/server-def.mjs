// A tensorflow.ServerDef for K gRPC tasks on 127.0.0.1, protobuf-encoded by hand (the two
// collective prototypes need nothing else from protobuf). Field numbers:
// tensorflow/core/protobuf/tensorflow_server.proto (ServerDef: cluster 1, job_name 2, task_index 3,
// default_session_config 4, protocol 5), cluster.proto (ClusterDef.job 1; JobDef: name 1,
// map<int32, string> tasks 2), config.proto (ConfigProto.experimental 16;
// Experimental.collective_group_leader 1).
const varint = (n) => {
  const out = []
  let v = n >>> 0
  do {
    let b = v & 0x7f
    v >>>= 7
    if (v > 0) b |= 0x80
    out.push(b)
  } while (v > 0)
  return out
}
const bytesField = (field, bytes) => [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes]
const strField = (field, s) => bytesField(field, [...new TextEncoder().encode(s)])
const intField = (field, n) => [...varint(field << 3), ...varint(n)]

/** The ServerDef of task `task` in a job "worker" of one task per port; task 0 leads collective groups. */
export const serverDef = (ports, task, host = "127.0.0.1") => {
  const job = [
    ...strField(1, "worker"),
    ...ports.flatMap((p, i) => bytesField(2, [...intField(1, i), ...strField(2, `${host}:${p}`)])),
  ]
  const config = bytesField(16, strField(1, "/job:worker/replica:0/task:0"))
  return Uint8Array.from([
    ...bytesField(1, bytesField(1, job)),
    ...strField(2, "worker"),
    ...intField(3, task),
    ...bytesField(4, config),
    ...strField(5, "grpc"),
  ])
}
