export { startLocalDirectory, type RunningLocalDirectory } from './LocalDirectoryServer';
export { LOCAL_MANAGED_APPLE_ID_ATTRIBUTE, type LocalUser, type LocalGroup } from './DirectoryState';
export { MAX_DELTA_FILTER_IDS } from './groupDelta';
export { MAX_IN_FILTER_EXPRESSIONS } from './usersById';
export { DEMO_GROUPS, DEMO_USERS, DEMO_STUDENT_COUNT } from './demoData';
