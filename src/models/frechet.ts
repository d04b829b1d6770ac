/**
 * Sample-quality statistics as plain numbers (float64, no tensors): the
 * Gaussian of a set of feature rows, the Fréchet distance between two such
 * Gaussians, the Inception-score analogue of a classifier's predictions, and
 * the class histogram with its entropy. Logarithms are natural (nats).
 */

/** A Gaussian fitted to feature rows: mean (dim) and covariance (dim × dim, row-major). */
export interface Gaussian {
  readonly dim: number
  readonly mean: Float64Array
  readonly covariance: Float64Array
}

const assertFinite = (values: ArrayLike<number>, what: string): void => {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i] as number)) throw new RangeError(`${what} holds a non-finite value`)
}

/** Mean and unbiased covariance (divided by count − 1, as numpy's `cov`) of `count` rows of `dim` values. */
export const fitGaussian = (rows: ArrayLike<number>, count: number, dim: number): Gaussian => {
  if (rows.length !== count * dim) throw new RangeError(`expected ${count}×${dim} values, got ${rows.length}`)
  if (count < 2) throw new RangeError(`a covariance needs at least 2 rows, got ${count}`)
  assertFinite(rows, "the feature rows")
  const mean = new Float64Array(dim)
  for (let r = 0; r < count; r++) for (let j = 0; j < dim; j++) mean[j] += rows[r * dim + j] as number
  for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / count
  const covariance = new Float64Array(dim * dim)
  const centred = new Float64Array(dim)
  for (let r = 0; r < count; r++) {
    for (let j = 0; j < dim; j++) centred[j] = (rows[r * dim + j] as number) - (mean[j] as number)
    for (let i = 0; i < dim; i++) {
      const ci = centred[i] as number
      if (ci === 0) continue
      for (let j = i; j < dim; j++) covariance[i * dim + j] += ci * (centred[j] as number)
    }
  }
  for (let i = 0; i < dim; i++)
    for (let j = i; j < dim; j++) {
      const v = (covariance[i * dim + j] as number) / (count - 1)
      covariance[i * dim + j] = v
      covariance[j * dim + i] = v
    }
  return { dim, mean, covariance }
}

/** Eigenvalues (ascending) and eigenvectors (columns of the row-major `vectors`) of a symmetric matrix. */
export interface Eigen {
  readonly values: Float64Array
  readonly vectors: Float64Array
}

/**
 * Symmetric eigendecomposition: Householder reduction to tridiagonal form,
 * then the implicit QL algorithm (EISPACK tred2/tql2 as in JAMA). O(n³), so
 * a 2,048-dimensional feature space still takes seconds, not minutes.
 */
export const symmetricEigen = (matrix: ArrayLike<number>, n: number): Eigen => {
  if (matrix.length !== n * n)
    throw new RangeError(`expected a ${n}×${n} matrix, got ${matrix.length} values`)
  assertFinite(matrix, "the matrix")
  // V[i][j] is v[i * n + j]; symmetrise the input against rounding
  const v = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      v[i * n + j] = ((matrix[i * n + j] as number) + (matrix[j * n + i] as number)) / 2
  const d = new Float64Array(n)
  const e = new Float64Array(n)
  if (n === 0) return { values: d, vectors: v }
  const V = (i: number, j: number): number => v[i * n + j] as number
  const setV = (i: number, j: number, x: number): void => {
    v[i * n + j] = x
  }

  // tred2: Householder tridiagonalisation, accumulating the transformations in V.
  for (let j = 0; j < n; j++) d[j] = V(n - 1, j)
  for (let i = n - 1; i > 0; i--) {
    let scale = 0
    let h = 0
    for (let k = 0; k < i; k++) scale += Math.abs(d[k] as number)
    if (scale === 0) {
      e[i] = d[i - 1] as number
      for (let j = 0; j < i; j++) {
        d[j] = V(i - 1, j)
        setV(i, j, 0)
        setV(j, i, 0)
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = (d[k] as number) / scale
        h += (d[k] as number) ** 2
      }
      let f = d[i - 1] as number
      let g = Math.sqrt(h)
      if (f > 0) g = -g
      e[i] = scale * g
      h -= f * g
      d[i - 1] = f - g
      for (let j = 0; j < i; j++) e[j] = 0
      for (let j = 0; j < i; j++) {
        f = d[j] as number
        setV(j, i, f)
        g = (e[j] as number) + V(j, j) * f
        for (let k = j + 1; k <= i - 1; k++) {
          g += V(k, j) * (d[k] as number)
          e[k] = (e[k] as number) + V(k, j) * f
        }
        e[j] = g
      }
      f = 0
      for (let j = 0; j < i; j++) {
        e[j] = (e[j] as number) / h
        f += (e[j] as number) * (d[j] as number)
      }
      const hh = f / (h + h)
      for (let j = 0; j < i; j++) e[j] = (e[j] as number) - hh * (d[j] as number)
      for (let j = 0; j < i; j++) {
        f = d[j] as number
        g = e[j] as number
        for (let k = j; k <= i - 1; k++) setV(k, j, V(k, j) - (f * (e[k] as number) + g * (d[k] as number)))
        d[j] = V(i - 1, j)
        setV(i, j, 0)
      }
    }
    d[i] = h
  }
  for (let i = 0; i < n - 1; i++) {
    setV(n - 1, i, V(i, i))
    setV(i, i, 1)
    const h = d[i + 1] as number
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V(k, i + 1) / h
      for (let j = 0; j <= i; j++) {
        let g = 0
        for (let k = 0; k <= i; k++) g += V(k, i + 1) * V(k, j)
        for (let k = 0; k <= i; k++) setV(k, j, V(k, j) - g * (d[k] as number))
      }
    }
    for (let k = 0; k <= i; k++) setV(k, i + 1, 0)
  }
  for (let j = 0; j < n; j++) {
    d[j] = V(n - 1, j)
    setV(n - 1, j, 0)
  }
  setV(n - 1, n - 1, 1)
  e[0] = 0

  // tql2: implicit QL iterations on the tridiagonal matrix (diagonal d, sub-diagonal e). The
  // rotations act on columns of V: work on its transpose W so that they touch contiguous rows.
  const w = new Float64Array(n * n)
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) w[j * n + i] = v[i * n + j] as number
  for (let i = 1; i < n; i++) e[i - 1] = e[i] as number
  e[n - 1] = 0
  let f = 0
  let tst1 = 0
  const eps = 2 ** -52
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number))
    let m = l
    while (m < n - 1 && Math.abs(e[m] as number) > eps * tst1) m++
    if (m > l) {
      for (let iteration = 0; ; iteration++) {
        if (iteration > 100) throw new Error("symmetric eigendecomposition did not converge")
        let g = d[l] as number
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number))
        let r = Math.hypot(p, 1)
        if (p < 0) r = -r
        d[l] = (e[l] as number) / (p + r)
        d[l + 1] = (e[l] as number) * (p + r)
        const dl1 = d[l + 1] as number
        let h = g - (d[l] as number)
        for (let i = l + 2; i < n; i++) d[i] = (d[i] as number) - h
        f += h
        p = d[m] as number
        let c = 1
        let c2 = c
        let c3 = c
        const el1 = e[l + 1] as number
        let s = 0
        let s2 = 0
        for (let i = m - 1; i >= l; i--) {
          c3 = c2
          c2 = c
          s2 = s
          g = c * (e[i] as number)
          h = c * p
          r = Math.hypot(p, e[i] as number)
          e[i + 1] = s * r
          s = (e[i] as number) / r
          c = p / r
          p = c * (d[i] as number) - s * g
          d[i + 1] = h + s * (c * g + s * (d[i] as number))
          const row = i * n
          const next = row + n
          for (let k = 0; k < n; k++) {
            const wk = w[next + k] as number
            const wi = w[row + k] as number
            w[next + k] = s * wi + c * wk
            w[row + k] = c * wi - s * wk
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1
        e[l] = s * p
        d[l] = c * p
        if (Math.abs(e[l] as number) <= eps * tst1) break
      }
    }
    d[l] = (d[l] as number) + f
    e[l] = 0
  }

  // ascending eigenvalues, vectors reordered with them
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (d[a] as number) - (d[b] as number))
  const values = Float64Array.from(order, (i) => d[i] as number)
  const vectors = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) vectors[i * n + j] = w[(order[j] as number) * n + i] as number
  return { values, vectors }
}

/** A·B for n × n row-major matrices. */
export const matMul = (a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array => {
  const out = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k] as number
      if (aik === 0) continue
      for (let j = 0; j < n; j++) out[i * n + j] += aik * (b[k * n + j] as number)
    }
  return out
}

/**
 * Eigenvalues below n·ε·max|λ| are rounding noise of a (near) singular
 * matrix: counted as 0, so that a rank-deficient covariance has an exact root.
 */
const noiseFloor = (values: Float64Array, n: number): number =>
  n * 2 ** -52 * values.reduce((m, l) => Math.max(m, Math.abs(l)), 0)

const rootAbove =
  (floor: number) =>
  (l: number): number =>
    l > floor ? Math.sqrt(l) : 0

/**
 * The symmetric positive semi-definite square root V·diag(√λ)·Vᵀ (eigenvalues
 * in the rounding noise, including slightly negative ones, count as 0).
 */
export const psdSqrt = (matrix: ArrayLike<number>, n: number): Float64Array => {
  const { values, vectors } = symmetricEigen(matrix, n)
  const roots = values.map(rootAbove(noiseFloor(values, n)))
  const out = new Float64Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      let sum = 0
      for (let k = 0; k < n; k++)
        sum += (vectors[i * n + k] as number) * (roots[k] as number) * (vectors[j * n + k] as number)
      out[i * n + j] = sum
      out[j * n + i] = sum
    }
  return out
}

const trace = (m: ArrayLike<number>, n: number): number => {
  let t = 0
  for (let i = 0; i < n; i++) t += m[i * n + i] as number
  return t
}

/**
 * The squared Fréchet (2-Wasserstein) distance between N(μ1, Σ1) and N(μ2, Σ2),
 * the quantity FID reports:
 *
 *   d² = ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2·tr((Σ1^½ Σ2 Σ1^½)^½)
 *
 * The last trace is the sum of the square roots of the eigenvalues of the
 * symmetric PSD matrix Σ1^½ Σ2 Σ1^½ (the same as those of Σ1Σ2), so no
 * non-symmetric square root is needed. Rounding can make d² a hair below 0
 * for identical inputs; it is clamped to 0.
 */
export const frechetDistance = (a: Gaussian, b: Gaussian): number => {
  if (a.dim !== b.dim) throw new RangeError(`Gaussians of dimension ${a.dim} and ${b.dim} cannot be compared`)
  const n = a.dim
  let meanTerm = 0
  for (let i = 0; i < n; i++) meanTerm += ((a.mean[i] as number) - (b.mean[i] as number)) ** 2
  const root = psdSqrt(a.covariance, n)
  const product = matMul(matMul(root, b.covariance, n), root, n)
  const { values } = symmetricEigen(product, n)
  const sqrt = rootAbove(noiseFloor(values, n))
  let crossTrace = 0
  for (const l of values) crossTrace += sqrt(l)
  return Math.max(0, meanTerm + trace(a.covariance, n) + trace(b.covariance, n) - 2 * crossTrace)
}

/**
 * The Inception-score analogue exp(E_x KL(p(y|x) ‖ p(y))) with p(y) the mean
 * prediction over the set (one split, natural logarithms). It is 1 when every
 * image gets the same prediction and reaches the number of classes when each
 * prediction is one-hot and the classes are used equally often.
 */
export const inceptionScore = (probabilities: ArrayLike<number>, count: number, classes: number): number => {
  if (probabilities.length !== count * classes || count === 0)
    throw new RangeError(`expected ${count}×${classes} probabilities, got ${probabilities.length}`)
  const marginal = new Float64Array(classes)
  for (let i = 0; i < count; i++)
    for (let c = 0; c < classes; c++) marginal[c] += (probabilities[i * classes + c] as number) / count
  let klSum = 0
  for (let i = 0; i < count; i++)
    for (let c = 0; c < classes; c++) {
      const p = probabilities[i * classes + c] as number
      // 0·log 0 = 0
      if (p > 0) klSum += p * Math.log(p / (marginal[c] as number))
    }
  return Math.exp(klSum / count)
}

/** How many images the classifier assigns (argmax) to each class. */
export const classHistogram = (
  probabilities: ArrayLike<number>,
  count: number,
  classes: number,
): Int32Array => {
  const histogram = new Int32Array(classes)
  for (let i = 0; i < count; i++) {
    let best = 0
    for (let c = 1; c < classes; c++)
      if ((probabilities[i * classes + c] as number) > (probabilities[i * classes + best] as number)) best = c
    histogram[best] = (histogram[best] as number) + 1
  }
  return histogram
}

/** Entropy in nats of the normalised histogram: ln(classes) when balanced, 0 when all in one class. */
export const histogramEntropy = (histogram: ArrayLike<number>): number => {
  let total = 0
  for (let c = 0; c < histogram.length; c++) total += histogram[c] as number
  let h = 0
  for (let c = 0; c < histogram.length; c++) {
    const p = (histogram[c] as number) / total
    if (p > 0) h -= p * Math.log(p)
  }
  return total === 0 ? 0 : h
}

/** The q-quantile (0 ≤ q ≤ 1) by linear interpolation between order statistics (numpy's default). */
export const quantile = (values: ArrayLike<number>, q: number): number => {
  if (values.length === 0) throw new RangeError("quantile of an empty set")
  const sorted = Float64Array.from(values).sort()
  const at = q * (sorted.length - 1)
  const lo = Math.floor(at)
  const hi = Math.min(sorted.length - 1, lo + 1)
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo)
}

/** Fraction of `distances` strictly below `threshold`. */
export const fractionBelow = (distances: ArrayLike<number>, threshold: number): number => {
  let below = 0
  for (let i = 0; i < distances.length; i++) if ((distances[i] as number) < threshold) below++
  return distances.length === 0 ? 0 : below / distances.length
}
