/**
 * How a configuration field declares itself: its schema, its default and one
 * line of documentation, all in one place. Decoding a file fills every field
 * it leaves out with that default; `--help` prints the same default and line.
 * The option sections that stage variants read are declared here once and
 * shared by every variant that reads them.
 */
import { Effect, Schema } from "effect"

/** `schema` with a default (filled in when the key is absent) and its `--help` line. */
export const field = <S extends Schema.Top>(
  schema: S,
  value: S["Encoded"],
  description: string,
): Schema.withDecodingDefaultKey<S> =>
  Schema.withDecodingDefaultKey(Effect.succeed(value))(schema.annotate({ description, default: value }) as S)

/** A struct of fields that may itself be left out: every field then takes its default. */
export const section = <const F extends Schema.Struct.Fields>(
  fields: F,
  description: string,
): Schema.withDecodingDefaultKey<Schema.Struct<F>> =>
  Schema.withDecodingDefaultKey<Schema.Struct<F>>(
    // every field has a default, so an empty section decodes
    Effect.succeed({} as Schema.Struct<F>["Encoded"]),
  )(Schema.Struct(fields).annotate({ description }) as Schema.Struct<F>)

/**
 * A count: a whole number that a float64 holds exactly. Beyond
 * Number.MAX_SAFE_INTEGER (2^53 − 1) a JSON number is rounded as it is read
 * (9007199254740993 arrives as …992), so such counts are refused rather than
 * silently changed.
 */
const Count = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isInteger(n), { expected: "a whole number" }, true),
  Schema.isLessThanOrEqualTo(Number.MAX_SAFE_INTEGER, {
    expected: `at most ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER: beyond it a count is not exact)`,
  }),
)
export const NonNegativeInt = Count.check(Schema.isGreaterThanOrEqualTo(0))
export const PositiveInt = Count.check(Schema.isGreaterThan(0))
export const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
export const NonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** Descriptor Langevin: the revision of the chains, and the reference distribution N(0, s²I) of the energy. */
export const LangevinSection = section(
  {
    steps: field(NonNegativeInt, 15, "descriptor Langevin steps per iteration (l)"),
    stepSize: field(Positive, 0.002, "Langevin step size δ"),
    refSigma: field(Positive, 0.016, "reference distribution's s in E(X) = ‖X‖²/(2s²) − f(X)"),
    noise: field(Schema.Boolean, true, "add δ·N(0, I) each step"),
  },
  "descriptor Langevin dynamics X ← X − (δ²/2)·∂E/∂X + δ·N(0, I)",
)

/** Langevin in the latent space, under q(z | X) ∝ N(z; 0, I)·N(X; g(z), σ²I). */
export const LatentLangevinSection = section(
  {
    steps: field(
      NonNegativeInt,
      0,
      'Langevin steps of z: under q(z|X̂) before teaching (teach "zrevision"), under q(z|X_obs) (teach "abp")',
    ),
    stepSize: field(Positive, 0.1, "their step size"),
    noise: field(Schema.Boolean, true, "add noise in those steps"),
  },
  'Langevin revision of z (teach "zrevision" and "abp")',
)

export type LangevinSection = typeof LangevinSection.Type
export type LatentLangevinSection = typeof LatentLangevinSection.Type
