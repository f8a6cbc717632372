/**
 * The ECharts parts the studio's charts use, registered once: bar and line series, grid, tooltip, legend and
 * marks, drawn on a canvas: the SVG renderer writes `style` attributes, which the content security policy refuses.
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
import { CanvasRenderer } from 'echarts/renderers'

use([
  BarChart,
  LineChart,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  MarkPointComponent,
  TooltipComponent,
  CanvasRenderer,
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
