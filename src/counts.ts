/**
 * @module counts
 * How many of something are under way, by key, with a key gone once its count is back
 * at zero (so the map does not keep every key it ever saw): in-flight requests per
 * client, pins per member, tasks per pin and member.
 */
export class Counts<K> {
  private readonly counts = new Map<K, number>()

  get (key: K): number {
    return this.counts.get(key) ?? 0
  }

  has (key: K): boolean {
    return this.counts.has(key)
  }

  add (key: K): void {
    this.counts.set(key, this.get(key) + 1)
  }

  remove (key: K): void {
    const left = this.get(key) - 1
    if (left > 0) this.counts.set(key, left)
    else this.counts.delete(key)
  }
}
