import type { EChartsCoreOption } from 'echarts/core'
import type { LayerDiagnosticsReport } from '../../../../shared/layer-diagnostics.ts'
import type { ChartColors } from '../chart-setup.ts'

/**
 * The layer-diagnostics chart: held-out probe accuracy per layer as bars (the recommended layer's bar in the
 * accent colour and labelled), separation d′ and mean activation norm as lines on their own axes; with a fitted
 * edit, its mean norm after the edit on the norm axis too.
 */
export function diagnosticsChartOption(
  report: LayerDiagnosticsReport,
  colors: ChartColors,
): EChartsCoreOption {
  const layers = report.rows.map((row) => String(row.layer))
  const axisText = { color: colors.muted }
  const axisLine = { lineStyle: { color: colors.grid } }
  return {
    animation: false,
    textStyle: { color: colors.text },
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, textStyle: { color: colors.text } },
    grid: { left: 56, right: 112, top: 36, bottom: 68 },
    xAxis: {
      type: 'category',
      data: layers,
      name: 'layer',
      nameLocation: 'middle',
      nameGap: 26,
      axisLabel: axisText,
      axisLine,
    },
    yAxis: [
      {
        type: 'value',
        name: 'probe accuracy %',
        min: 0,
        max: 100,
        axisLabel: axisText,
        splitLine: { lineStyle: { color: colors.grid } },
      },
      { type: 'value', name: 'd′', position: 'right', axisLabel: axisText, splitLine: { show: false } },
      {
        type: 'value',
        name: 'norm',
        position: 'right',
        offset: 56,
        axisLabel: axisText,
        splitLine: { show: false },
      },
    ],
    series: [
      {
        name: 'probe accuracy',
        type: 'bar',
        barMaxWidth: 36,
        data: report.rows.map((row) => ({
          value: Math.round(1000 * row.probeAccuracy) / 10,
          itemStyle: { color: row.layer === report.recommendedLayer ? colors.primary : colors.grid },
          label:
            row.layer === report.recommendedLayer
              ? {
                  show: true,
                  position: 'insideBottom',
                  rotate: 90,
                  align: 'left',
                  verticalAlign: 'middle',
                  formatter: 'recommended',
                  color: '#fff',
                }
              : { show: false },
        })),
      },
      {
        name: 'separation d′',
        type: 'line',
        yAxisIndex: 1,
        symbolSize: 7,
        itemStyle: { color: colors.secondary },
        data: report.rows.map((row) => Math.round(100 * row.separation) / 100),
      },
      {
        name: 'mean norm',
        type: 'line',
        yAxisIndex: 2,
        symbolSize: 5,
        lineStyle: { type: 'dashed' },
        itemStyle: { color: colors.tertiary },
        data: report.rows.map((row) => Math.round(10 * row.meanNorm) / 10),
      },
      ...(report.edited === undefined
        ? []
        : [
            {
              name: `norm after edit (α ${report.edited.strength})`,
              type: 'line',
              yAxisIndex: 2,
              symbolSize: 5,
              itemStyle: { color: colors.primary },
              data: report.rows.map((row) =>
                row.editedMeanNorm === undefined ? null : Math.round(10 * row.editedMeanNorm) / 10,
              ),
            },
          ]),
    ],
  }
}
