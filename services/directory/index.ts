export {
  GraphDirectory,
  GRAPH_BASE_URL,
  DEFAULT_GRAPH_RETRY,
  type GraphDirectoryOptions,
  type DirectoryGroup,
  type DirectoryUser,
  type DirectoryMember,
  type MemberDelta,
  type NewDirectoryUser,
  type GroupKind,
  type GroupClassification,
  type MembershipType,
} from './GraphDirectory';
export { CachedGroupMembership, type CachedGroupMembershipOptions } from './CachedGroupMembership';
export * from './errors';
export { startLocalDirectory, type LocalDirectoryOptions, type RunningLocalDirectory, type DirectoryFault, type RecordedRequest } from './local/LocalDirectoryServer';
export { DirectoryState, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, DELTA_TOKEN_LIFETIME_MS, type DirectoryStateOptions, type LocalUser, type LocalDevice, type LocalGroup } from './local/DirectoryState';
export { MembershipLog, DEFAULT_MEMBERSHIP_LOG_LIMIT, type MembershipChange } from './local/MembershipLog';
export { MAX_DELTA_FILTER_IDS } from './local/groupDelta';
export { MAX_IN_FILTER_EXPRESSIONS } from './local/directoryWrites';
export { DEMO_GROUPS, DEMO_USERS, DEMO_DOMAIN, DEMO_APPLE_DOMAIN, DEMO_STUDENT_COUNT } from './local/demoData';
