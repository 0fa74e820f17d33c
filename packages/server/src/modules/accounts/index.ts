export { createAccounts, type Accounts } from './actions.ts';
export { accountsRoutes, accountLifecycleRoutes, type Visibility } from './routes.ts';
export { createAccountLifecycle, type AccountLifecycle, type GroupLeaver } from './lifecycle.ts';
export { toUser, findUsersByIds, type UserRow } from './queries.ts';
