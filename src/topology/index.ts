/**
 * @module topology
 * The topology file: its schema and normalised types, loading with positioned errors,
 * durations, and the human-readable rendering. Import from here, not from the parts.
 */
export {
  DEFAULT_LIMITS, DEFAULT_LISTEN, DEFAULTS, MEMBER_KINDS, limitsOf, endpointKey, memberUrlsOverlapHub, normaliseTopology,
  parseHostPort, pinNameMatcher, placeableMembers, stateBackendOf, pinNameMatches, selectMembers, urlEndpointKey, TopologyFileSchema,
} from './schema.js'
export type {
  CredentialSpec, Defaults, GatewaySpec, HealthSpec, LimitsSpec, Role, TlsSpec, HubOverlap, HubSpec, MemberKind, MemberSpec, PlacementRule, RebalanceSpec, ReconcileSpec, Replication, Topology, TopologyFile,
} from './schema.js'
export {
  examineText, formatPath, formatProblems, interpolate, loadTopology, parseTopology, readTopologyText, type Env, type TextProblem,
} from './load.js'
export { contentHash, watchTopologyFile, type WatchOptions } from './watch.js'
export { formatDuration, parseDuration } from './duration.js'
export { REDACTED, redactTopology, redactUrl, showTopology } from './show.js'
export { copiesOf, describeCopies, type Copies, type Level, type Range } from './copies.js'
export {
  addMember, applySplice, editTopologyFile, parseEditPath, removeMember, setDrain, setValue,
  type EditOutcome, type NewMember, type PathSegment, type Splice,
} from './edit.js'
export { diffTopologies, formatTopologyDiff, type FieldChange, type TopologyDiff } from './diff.js'
export { writeFileAtomic } from './write.js'
