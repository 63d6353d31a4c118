// Moved to @probegate/testenv (shared with the agent and e2e tests).
export {
  createSession,
  eventually,
  failCheck,
  kvSession,
  nodeSessions,
  passCheck,
  registerTtlService,
  type SessionRow,
  type TtlService,
} from '@probegate/testenv';
