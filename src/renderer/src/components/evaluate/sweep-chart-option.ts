import type { EChartsCoreOption } from 'echarts/core'
import type { EvaluationRun, SweepRow } from '../../../../shared/evaluation.ts'
import type { ChartColors } from '../chart-setup.ts'

/** Strength ranges where fluency breaks: each non-fluent strength out to the midpoints with its neighbours. */
export function brokenFluencyRanges(sweep: readonly SweepRow[]): [number, number][] {
  const rows = [...sweep].sort((first, second) => first.strength - second.strength)
  const ranges: [number, number][] = []
  rows.forEach((row, index) => {
    if (row.fluent) return
    const previous = rows[index - 1]
    const next = rows[index + 1]
    const low = previous === undefined ? row.strength : (previous.strength + row.strength) / 2
    const high = next === undefined ? row.strength : (row.strength + next.strength) / 2
    const last = ranges.at(-1)
    if (last !== undefined && last[1] === low) last[1] = high
    else ranges.push([low, high])
  })
  return ranges
}

const percent = (value: number): number => Math.round(1000 * value) / 10

/**
 * The strength-sweep chart of a run: validation MC1 (with its 95 % band) and perplexity against strength, the
 * chance level, a warning band where perplexity exceeds the base's by more than the fluency limit, and the chosen
 * strength. Every point carries its strength so a click can pick it.
 */
export function sweepChartOption(run: EvaluationRun, colors: ChartColors): EChartsCoreOption {
  const rows = [...run.validation.sweep].sort((first, second) => first.strength - second.strength)
  const base = rows.find((row) => row.strength === 0)?.perplexity ?? null
  const axisText = { color: colors.muted }
  const hasFluency = rows.some((row) => row.perplexity !== null)
  const band = brokenFluencyRanges(rows).map(([low, high]) => [
    { xAxis: low === high ? low - 0.05 : low, itemStyle: { color: colors.warningBand } },
    { xAxis: low === high ? high + 0.05 : high },
  ])
  return {
    animation: false,
    textStyle: { color: colors.text },
    tooltip: { trigger: 'axis' },
    legend: {
      bottom: 0,
      data: ['MC1', 'MC1 95 % interval', ...(hasFluency ? ['perplexity'] : [])],
      textStyle: { color: colors.text },
    },
    grid: { left: 56, right: 64, top: 36, bottom: 72 },
    xAxis: {
      type: 'value',
      name: 'strength α',
      nameLocation: 'middle',
      nameGap: 28,
      min: rows[0]?.strength,
      max: rows.at(-1)?.strength,
      axisLabel: axisText,
      splitLine: { show: false },
    },
    yAxis: [
      {
        type: 'value',
        name: 'validation MC1 %',
        min: 0,
        max: 100,
        axisLabel: axisText,
        splitLine: { lineStyle: { color: colors.grid } },
      },
      {
        type: 'value',
        name: 'perplexity',
        position: 'right',
        scale: true,
        axisLabel: axisText,
        splitLine: { show: false },
        show: hasFluency,
      },
    ],
    series: [
      // The 95 % band: an invisible lower line with the interval's width stacked on it.
      {
        name: 'band-low',
        type: 'line',
        stack: 'interval',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        tooltip: { show: false },
        data: rows.map((row) => [row.strength, percent(row.mc1.low)]),
      },
      {
        name: 'MC1 95 % interval',
        type: 'line',
        stack: 'interval',
        symbol: 'none',
        lineStyle: { opacity: 0 },
        itemStyle: { color: colors.primary },
        areaStyle: { color: colors.primary, opacity: 0.15 },
        tooltip: { show: false },
        data: rows.map((row) => [row.strength, percent(row.mc1.high - row.mc1.low)]),
      },
      {
        name: 'MC1',
        type: 'line',
        symbolSize: 9,
        itemStyle: { color: colors.primary },
        data: rows.map((row) => [row.strength, percent(row.mc1.value)]),
        markLine: {
          symbol: 'none',
          silent: true,
          data: [
            {
              yAxis: percent(run.chance.mc1),
              name: 'chance',
              lineStyle: { color: colors.muted, type: 'dotted' },
              label: { formatter: 'chance', color: colors.muted },
            },
            {
              xAxis: run.chosenStrength,
              name: 'chosen',
              lineStyle: { color: colors.primary, type: 'solid' },
              label: { formatter: `chosen α ${run.chosenStrength}`, color: colors.primary },
            },
          ],
        },
        markArea: { silent: true, label: { show: false }, data: band },
      },
      ...(hasFluency
        ? [
            {
              name: 'perplexity',
              type: 'line',
              yAxisIndex: 1,
              symbolSize: 7,
              itemStyle: { color: colors.warning },
              data: rows.map((row) => [row.strength, row.perplexity]),
              markLine:
                base === null
                  ? undefined
                  : {
                      symbol: 'none',
                      silent: true,
                      data: [
                        {
                          yAxis: Math.round(100 * base * (1 + run.fluencyLimit)) / 100,
                          lineStyle: { color: colors.warning, type: 'dashed' },
                          label: {
                            formatter: `+${Math.round(100 * run.fluencyLimit)} %`,
                            color: colors.warning,
                          },
                        },
                      ],
                    },
            },
          ]
        : []),
    ],
  }
}

/** The strength of a clicked chart point (series data are `[strength, value]`), or null for anything else. */
export function clickedStrength(event: { value?: unknown }): number | null {
  const value = event.value
  return Array.isArray(value) && typeof value[0] === 'number' ? value[0] : null
}
