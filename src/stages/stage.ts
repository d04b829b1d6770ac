/**
 * What a stage is, and how a stage variant describes itself.
 *
 * A cooperative iteration has four slots — chains → revise → updateDescriptor →
 * teach — and each slot is filled by one variant named in pipeline.json. A
 * variant declares everything the pipeline needs to know about it: its slot and
 * name, one line for `--help`, the option sections it reads (schemas with
 * defaults and docs, which become fields of pipeline.json), what it needs from
 * the other slots and what it provides to them. The pipeline derives the
 * schema of pipeline.json, its `--help` and the combination checks from these
 * declarations, so a new variant is one file plus one line in `registry.ts`.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, type Schema } from "effect"
import type { Net } from "../models/coopnets.js"
import { type DivergenceError, guardFinite } from "./divergence.js"
import { Models, type ModelsShape } from "./models.js"
import type { Drafted, Observed, Revised, Taught, Timings, Updated } from "./records.js"

/** A typed step from one record to the next; it may fail only by divergence. */
export type Stage<In, Out> = (input: In) => Effect.Effect<Out, DivergenceError, Models>

/** The records each slot reads and writes. */
export interface SlotRecords {
  readonly chains: readonly [Observed, Drafted]
  readonly revise: readonly [Drafted, Revised]
  readonly updateDescriptor: readonly [Revised, Updated]
  readonly teach: readonly [Updated, Taught]
}
export type Slot = keyof SlotRecords
export const SLOTS: ReadonlyArray<Slot> = ["chains", "revise", "updateDescriptor", "teach"]

/** What every variant is built with, whatever the sections it reads. */
export interface CoreOptions {
  readonly seed: number
  /** synthesised examples per iteration */
  readonly chains: number
  /** observed examples per iteration */
  readonly batchSize: number
  /** values in one latent draw: zDim, or the whole latent map of a fully convolutional generator */
  readonly zDim: number
  /** σ of the generator's noise ε */
  readonly generatorSigma: number
}

/** What one slot's variant can offer the others. */
export type Capability = "z" | "freshDrafts" | "labels" | "revision" | "descriptorTraining"

/** Each capability as the checks name it. */
export const CAPABILITIES: Readonly<Record<Capability, string>> = {
  z: "chains that carry the z that drafted them",
  freshDrafts: "chains drafted afresh by the generator, g(z), every iteration",
  labels: "chains paired with the class labels of the observed batch",
  revision: "chains revised by the descriptor",
  descriptorTraining: "a descriptor that learns",
}

/** Option sections by their key in pipeline.json (each a struct with defaults, see options.ts). */
export type Sections = Readonly<Record<string, Schema.Top>>
export type SectionValues<O extends Sections> = { readonly [K in keyof O]: O[K]["Type"] }

/** What a variant's own checks see of the spec (the pipeline builds it). */
export interface CheckView<O extends Sections> {
  readonly options: CoreOptions & SectionValues<O>
  readonly arch: string
  readonly dataSource: string
}

export interface StageVariant<S extends Slot = Slot, O extends Sections = Sections> {
  readonly slot: S
  readonly name: string
  /** one line for `--help` */
  readonly summary: string
  /** the sections of pipeline.json it reads */
  readonly options: O
  /** capabilities it cannot work without, each with why */
  readonly needs?: ReadonlyArray<{ readonly capability: Capability; readonly why: string }>
  /** capabilities it must not be combined with, each with why */
  readonly excludes?: ReadonlyArray<{ readonly capability: Capability; readonly why: string }>
  /** capabilities it offers; `when` makes one depend on its options (`hint` says on which) */
  readonly provides?: ReadonlyArray<
    | Capability
    | {
        readonly capability: Capability
        when(o: SectionValues<O>): boolean
        readonly hint: string
      }
  >
  /** what it keeps in `Models.state` (checkpoints carry it) */
  readonly state?: ReadonlyArray<string>
  /** further checks of its options and of the spec, one sentence per problem */
  check?(view: CheckView<O>): ReadonlyArray<string>
  make(o: CoreOptions & SectionValues<O>): Stage<SlotRecords[S][0], SlotRecords[S][1]>
  /** chains only: what happens to the revised samples before the descriptor learns from them */
  writeBack?(o: CoreOptions & SectionValues<O>): Stage<Revised, Revised>
}

/** Any variant, whatever its sections (each variant's are checked where it is declared). */
// biome-ignore lint/suspicious/noExplicitAny: the option sections differ from variant to variant
export type AnyVariant<S extends Slot = Slot> = S extends Slot ? StageVariant<S, any> : never

/** Declares a variant (the identity, for inference of its option types). */
export const defineStage = <S extends Slot, const O extends Sections>(v: StageVariant<S, O>) => v

/** Whether `variant` (with its options) provides `capability`. */
export const providesCapability = (
  variant: AnyVariant,
  capability: Capability,
  options: Readonly<Record<string, unknown>>,
): boolean =>
  (variant.provides ?? []).some((p: NonNullable<AnyVariant["provides"]>[number]) =>
    typeof p === "string" ? p === capability : p.capability === capability && p.when(options),
  )

/** The nets, conditioned on the record's labels (conditional chains carry them), and their optimisers. */
export interface Nets extends Omit<ModelsShape, "descriptor" | "generator"> {
  readonly descriptor: Net
  readonly generator: Net
}

const conditioned = (models: ModelsShape, labels: tf.Tensor2D | undefined): Nets =>
  labels === undefined
    ? models
    : {
        ...models,
        descriptor: { ...models.descriptor, labels },
        generator: { ...models.generator, labels },
      }

/**
 * What every compute stage does around its math: looks up the nets (conditioned
 * on the record's labels), times `run` under `timing`, then checks the
 * quantities `guard` reads off its result; when one has diverged, the tensors
 * `owned` lists are disposed before the stage fails.
 */
export const compute = <R>(
  input: Observed & { readonly oneHotLabels?: tf.Tensor2D | undefined },
  timing: string,
  run: (nets: Nets) => R,
  guard: (result: R) => Readonly<Record<string, number>> = () => ({}),
  owned: (result: R) => tf.TensorContainer = () => [],
): Effect.Effect<readonly [R, Timings], DivergenceError, Models> =>
  Effect.gen(function* () {
    const nets = conditioned(yield* Models, input.oneHotLabels)
    const start = performance.now()
    const result = run(nets)
    const timings = { ...input.timings, [timing]: performance.now() - start }
    yield* guardFinite(timing, input.iteration, guard(result)).pipe(
      Effect.tapError(() => Effect.sync(() => tf.dispose(owned(result)))),
    )
    return [result, timings] as const
  })
