/**
 * The two matrix products over the width a low-rank spectral fit needs, behind one interface with two back ends:
 *   gram         X Yᵀ                 X, Y `[rows, width]` float32 → `[rows, rows]` float64
 *   combine      C X                  C `[count, rows]` float64, X `[rows, width]` float32 → `[count, width]` float32
 *
 * The JavaScript back end accumulates in float64 and suits small problems (tests, narrow models). Large ones
 * (rows · rows · width in the billions) run as float32 ONNX Runtime MatMul graphs (onnx-products.ts).
 */

/** Matrix products over row-major typed arrays. */
export interface MatrixProducts {
  gram(first: Float32Array, second: Float32Array, rows: number, width: number): Promise<Float64Array>
  combine(
    coefficients: Float64Array,
    count: number,
    matrix: Float32Array,
    rows: number,
    width: number,
  ): Promise<Float32Array>
  release(): Promise<void>
}

/** Float64 loops in JavaScript: exact enough for references, O(rows² · width) for the Gram. */
export const javascriptProducts: MatrixProducts = {
  gram(first, second, rows, width) {
    const result = new Float64Array(rows * rows)
    const left = new Float64Array(width)
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < width; column++) left[column] = first[row * width + column] as number
      for (let other = 0; other < rows; other++) {
        const offset = other * width
        let sum = 0
        for (let column = 0; column < width; column++) {
          sum += (left[column] as number) * (second[offset + column] as number)
        }
        result[row * rows + other] = sum
      }
    }
    return Promise.resolve(result)
  },
  combine(coefficients, count, matrix, rows, width) {
    const result = new Float32Array(count * width)
    const sums = new Float64Array(width)
    for (let target = 0; target < count; target++) {
      sums.fill(0)
      for (let row = 0; row < rows; row++) {
        const weight = coefficients[target * rows + row] as number
        if (weight === 0) continue
        const offset = row * width
        for (let column = 0; column < width; column++) {
          sums[column] = (sums[column] as number) + weight * (matrix[offset + column] as number)
        }
      }
      result.set(sums, target * width)
    }
    return Promise.resolve(result)
  },
  release: () => Promise.resolve(),
}
