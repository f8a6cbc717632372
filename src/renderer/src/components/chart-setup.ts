/**
 * The ECharts parts the studio's charts use, registered once: bar and line series, grid, tooltip, legend and
 * marks, drawn as SVG (sharp in screenshots, and no canvas needed to build the DOM).
 */
import { BarChart, LineChart } from 'echarts/charts'
import {
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TooltipComponent,
} from 'echarts/components'
import { use } from 'echarts/core'
import { SVGRenderer } from 'echarts/renderers'

use([
  BarChart,
  LineChart,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TooltipComponent,
  SVGRenderer,
])

/** Colours a chart takes from the current theme (Naive UI's theme variables). */
export interface ChartColors {
  text: string
  muted: string
  grid: string
  primary: string
  secondary: string
  tertiary: string
  warning: string
  warningBand: string
}
