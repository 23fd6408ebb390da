/**
 * plugboard: typed integrations, encrypted credentials and a compiled rule engine.
 *
 * @module
 */

export type { ConfigManagerEvents } from './config/events.js';
export type { ConfigManagerOptions } from './config/manager.js';
export { ConfigManager } from './config/manager.js';
export type {
  AuditEntry,
  AuditInput,
  AuditQuery,
  AuditRetention,
  CheckHealthOptions,
  ConnectionTestResult,
  ContextType,
  CreateInstanceInput,
  CreateInstanceOptions,
  DeleteInstanceOptions,
  HealthCheckSchedule,
  HealthReport,
  InstanceContext,
  InstanceReferenceChecker,
  InstanceState,
  InstanceStatus,
  InstanceView,
  InstanceWriteOptions,
  IntegrationConfig,
  ListInstancesQuery,
  ReencryptOptions,
  ReencryptReport,
  ResolveContext,
  UpdateInstanceChanges,
} from './config/types.js';
export type { KeyMaterial, KeyringOptions } from './credentials/keyring.js';
export { Keyring } from './credentials/keyring.js';
export type { OAuth2Tokens } from './credentials/oauth2.js';
export type {
  FailureKind,
  PlugboardErrorCode,
  Reference,
  ValidationIssue,
} from './errors.js';
export {
  ActionError,
  AmbiguousInstanceError,
  CompatibilityError,
  ConflictError,
  ConnectionTestError,
  DecryptionError,
  ForbiddenError,
  isPlugboardError,
  NotFoundError,
  OAuth2Error,
  PlugboardError,
  PluginLoadError,
  ReferencedError,
  StorageClosedError,
  StorageCorruptError,
  StorageLockedError,
  StorageUnavailableError,
  TimeoutError,
  ValidationError,
} from './errors.js';
export type { CreatePlugboardOptions, Plugboard } from './plugboard.js';
export { createPlugboard } from './plugboard.js';
export type {
  ActionInputOf,
  ActionOutputOf,
  ActionSpec,
  ConditionSpec,
  ConfigOf,
  CredentialsOf,
  DefinedTypes,
  IntegrationSpec,
  PluginTools,
  TriggerPayloadOf,
  TriggerSpec,
  TypedActionContext,
} from './plugins/define.js';
export { DefinedIntegration, defineIntegration } from './plugins/define.js';
export type { PluginLoaderEvents } from './plugins/events.js';
export type { PluginLoaderOptions, UnloadOptions } from './plugins/loader.js';
export { PluginLoader } from './plugins/loader.js';
export type {
  IntegrationPlugin,
  LoadAllResult,
  LoadedPlugin,
  PluginContext,
  PluginKind,
  PluginLoadFailure,
  PluginLogger,
} from './plugins/types.js';
export type { RegistryEvents } from './registry/events.js';
export type {
  DefinitionComponents,
  DefinitionPage,
  DefinitionRef,
  DefinitionRuntime,
  IntegrationRegistryOptions,
  ListDefinitionsQuery,
  PayloadValidationResult,
  ReferenceChecker,
  RegisterOptions,
  SchemaTarget,
  SchemaValidationResult,
  SchemaValidator,
} from './registry/index.js';
export { IntegrationRegistry } from './registry/index.js';
export type { RuleEngineOptions } from './rules/engine.js';
export { RuleEngine } from './rules/engine.js';
export type { RuleEngineEvents } from './rules/events.js';
export type { RetentionOptions } from './rules/history/retention.js';
export type { OperatorFn, OperatorOptions } from './rules/operators.js';
export type {
  ActionResult,
  ConditionFailure,
  Execution,
  ExecutionListQuery,
  ExecutionLog,
  ExecutionStatus,
  ExplainedCondition,
  ExplainedLeaf,
  ExplainedNode,
  MatchAll,
  MatchAny,
  MatchLeaf,
  MatchNode,
  MatchNot,
  RetryPolicy,
  Rule,
  RuleAction,
  RuleActionInput,
  RuleChanges,
  RuleCondition,
  RuleConditionInput,
  RuleEvaluation,
  RuleInput,
} from './rules/types.js';
export {
  ActionDefinition,
  AuthType,
  ConditionDefinition,
  DefinitionStatus,
  Deprecation,
  IntegrationDefinition,
  IntegrationDefinitionData,
  JsonSchemaObject,
  TriggerDefinition,
} from './schema/definition.js';
export type {
  ActionContext,
  ActionRuntime,
  ConditionContext,
  ConditionRuntime,
  ExecutionLogger,
  IntegrationDefinitionInput,
  IntegrationEvent,
  LogLevel,
  RegisteredAction,
  RegisteredCondition,
  RegisteredTrigger,
  TriggerFilter,
  TriggerRuntime,
} from './schema/runtime.js';
export { MemoryStorage } from './storage/memory.js';
export type {
  Collection,
  CollectionOptions,
  DocumentChanges,
  FindQuery,
  FindResult,
  NewDocument,
  OrderBy,
  Scalar,
  StorageAdapter,
  StorageCapabilities,
  StoredDocument,
  WriteOptions,
} from './storage/types.js';
