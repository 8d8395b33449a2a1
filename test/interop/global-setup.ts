/**
 * @module test/interop/global-setup
 * Starts the composite setup once for every interop test file and stops it afterwards,
 * whatever happened in between.
 */
import type { TestProject } from 'vitest/node'
import { startComposite, type CompositeInfo } from './composite.js'

declare module 'vitest' {
  export interface ProvidedContext {
    interop: CompositeInfo
  }
}

export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  const composite = await startComposite()
  project.provide('interop', composite.info)
  return composite.stop
}
