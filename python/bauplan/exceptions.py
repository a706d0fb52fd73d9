"""``bauplan.exceptions``: Bauplan's exception names, each the tarn error
class that is raised in its case, so ``except bauplan.exceptions.X`` catches
what tarn raises. Several Bauplan names share one tarn class (tarn has one
"not found", one "exists"...): ``except TableNotFoundError`` also catches a
missing branch. Names of failures tarn cannot have (HTTP statuses of a
service, permissions) are ``tarn.Error``."""
from tarn.errors import (AbortedError, ConflictError, Error, ExistsError, InvalidError,
                         NotFoundError, TarnIOError, UserFunctionError)

BauplanError = Error
BauplanHTTPError = Error
BauplanJobError = UserFunctionError
BauplanQueryError = InvalidError
InvalidPlanError = InvalidError
NoResultsFoundError = NotFoundError

_NOT_FOUND = ("ResourceNotFoundError", "TableNotFoundError", "NamespaceNotFoundError",
              "BranchNotFoundError", "RefNotFoundError", "TagNotFoundError")
_EXISTS = ("BranchExistsError", "TableExistsError", "TagExistsError", "NamespaceExistsError",
           "RevertDestinationTableExistsError")
_CONFLICT = ("UpdateConflictError", "MergeConflictError", "BranchHeadChangedError",
             "NamespaceIsNotEmptyError", "NamespaceUnresolvedError", "RevertIdenticalTableError")
_INVALID = ("BadRequestError", "InvalidDataError", "InvalidRefError", "NotABranchRefError",
            "NotATagRefError", "NotAWriteBranchRefError", "SameRefError",
            "TableCreatePlanError", "TableCreatePlanStatusError",
            "TableCreatePlanApplyStatusError")
_OTHER = ("UnauthorizedError", "ForbiddenError", "CreateBranchForbiddenError",
          "CreateNamespaceForbiddenError", "CreateTagForbiddenError", "DeleteBranchForbiddenError",
          "DeleteNamespaceForbiddenError", "DeleteTableForbiddenError", "DeleteTagForbiddenError",
          "MergeForbiddenError", "RenameBranchForbiddenError", "RenameTagForbiddenError",
          "RevertTableForbiddenError", "MethodNotAllowedError", "ApiRouteError", "ApiMethodError",
          "TooManyRequestsError", "BadGatewayError", "ServiceUnavailableError",
          "GatewayTimeoutError")

for _name in _NOT_FOUND:
    globals()[_name] = NotFoundError
for _name in _EXISTS:
    globals()[_name] = ExistsError
for _name in _CONFLICT:
    globals()[_name] = ConflictError
for _name in _INVALID:
    globals()[_name] = InvalidError
for _name in _OTHER:
    globals()[_name] = Error
InternalError = TarnIOError
JobCancelledError = AbortedError

__all__ = ["BauplanError", "BauplanHTTPError", "BauplanJobError", "BauplanQueryError",
           "InvalidPlanError", "NoResultsFoundError", "NotFoundError", "ConflictError",
           "InternalError", "JobCancelledError"] + list(_NOT_FOUND + _EXISTS + _CONFLICT +
                                                         _INVALID + _OTHER)
