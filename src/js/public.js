// The package's public names, re-exported by every entry (and nothing else: configureRuntime and
// setReady stay inside).
export {
  Client,
  Secret,
  parseDotenv,
  ready,
  ModalError,
  InvalidError,
  ConflictError,
  NotFoundError,
  AlreadyExistsError,
  AuthError,
  PermissionDeniedError,
  ResourceExhaustedError,
  ServiceError,
  UnimplementedError,
  InternalError,
  DataLossError,
  ConnectionError,
  TimeoutError,
} from "./api.js";
