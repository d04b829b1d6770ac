/**
 * teach "zrevision": before teaching, z is revised by latentLangevin.steps
 * Langevin steps under q(z | X̂) ∝ N(z; 0, I)·N(X̂; g(z), σ²I) — step 4 of the
 * cooperative iteration with its optional inference of z (off in every
 * official configuration) — then g(z) regresses onto X̂ from the revised z.
 */

import { latentRevise } from "../models/coopnets.js"
import { foldIn, rootKey } from "../models/random.js"
import { LatentLangevinSection } from "./options.js"
import { defineStage } from "./stage.js"
import { revisionNeeded, teachWith } from "./teach.js"

export const zRevisionTeaching = defineStage({
  slot: "teach",
  name: "zrevision",
  summary: "like mcmc, after latentLangevin.steps Langevin steps revising z under q(z│X̂)",
  options: { latentLangevin: LatentLangevinSection },
  needs: [{ capability: "z", why: "z-revision starts from the z that drafted each chain" }, revisionNeeded],
  check: ({ options }) =>
    options.latentLangevin.steps === 0
      ? [
          'stages.teach "zrevision" needs latentLangevin.steps > 0 (the Langevin steps revising z); set it to e.g. 10',
        ]
      : [],
  make: (o) =>
    teachWith(o, (input, z, generator) =>
      latentRevise(
        generator,
        z,
        input.revised,
        { ...o.latentLangevin, sigma: o.generatorSigma },
        foldIn(rootKey(o.seed), "teach", input.iteration),
      ),
    ),
})
