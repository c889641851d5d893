export { startLocalDirectory, type LocalDirectoryOptions, type RunningLocalDirectory, type DirectoryFault, type RecordedRequest } from './LocalDirectoryServer';
export { DirectoryState, LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, DELTA_TOKEN_LIFETIME_MS, type DirectoryStateOptions, type LocalUser, type LocalDevice, type LocalGroup } from './DirectoryState';
export { MembershipLog, DEFAULT_MEMBERSHIP_LOG_LIMIT, type MembershipChange } from './MembershipLog';
export { MAX_DELTA_FILTER_IDS } from './groupDelta';
export { MAX_IN_FILTER_EXPRESSIONS } from './directoryWrites';
export { DEMO_GROUPS, DEMO_USERS, DEMO_DOMAIN, DEMO_APPLE_DOMAIN, DEMO_STUDENT_COUNT } from './demoData';
