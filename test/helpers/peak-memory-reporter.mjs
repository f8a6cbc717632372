// Preloaded with `node --import`: when the process exits, writes its peak resident memory and CPU time as JSON to the
// file named by TILLER_PEAK_MEMORY_FILE (process.resourceUsage() reports maxRSS in kilobytes, CPU in microseconds).
import { writeFileSync } from 'node:fs'

const target = process.env.TILLER_PEAK_MEMORY_FILE
if (target) {
  process.on('exit', () => {
    const usage = process.resourceUsage()
    writeFileSync(
      target,
      JSON.stringify({
        maxRssBytes: usage.maxRSS * 1024,
        cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      }),
    )
  })
}
