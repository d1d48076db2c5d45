"""API Gateway (REST, v1) fidelity fixes."""

from __future__ import annotations

import functools
from typing import Any, Callable

from moto.apigateway.exceptions import ConflictException, NotFoundException, RestAPINotFound, UsagePlanNotFoundException
from moto.apigateway.models import APIGatewayBackend


class UsagePlanKeyNotFound(NotFoundException):
    code = 404

    def __init__(self) -> None:
        super().__init__("Invalid Usage Plan Key identifier specified")


def _with_mapping_table(method: Callable[..., Any]) -> Callable[..., Any]:
    """Gives an existing domain its (empty) table of base path mappings before `method`."""

    @functools.wraps(method)
    def wrapper(self: APIGatewayBackend, domain_name: str, *args: Any, **kwargs: Any) -> Any:
        if domain_name in self.domain_names:
            self.base_path_mappings.setdefault(domain_name, {})
        return method(self, domain_name, *args, **kwargs)

    return wrapper


def apply() -> None:
    # AWS GetBasePathMappings on a custom domain name without mappings answers 200 with an
    # empty collection (`{"item": []}`); GetBasePathMapping / DeleteBasePathMapping /
    # UpdateBasePathMapping of a base path it does not have answer NotFoundException (404).
    # https://docs.aws.amazon.com/apigateway/latest/api/API_GetBasePathMappings.html
    # moto 5.2.5 only creates a domain's table with its first mapping, and answers 500
    # (KeyError) on a domain that never had one.
    for name in (
        "get_base_path_mappings",
        "get_base_path_mapping",
        "delete_base_path_mapping",
        "update_base_path_mapping",
    ):
        setattr(APIGatewayBackend, name, _with_mapping_table(getattr(APIGatewayBackend, name)))

    original_delete_domain = APIGatewayBackend.delete_domain_name

    def delete_domain_name(self: APIGatewayBackend, domain_name: str) -> None:
        # A domain's base path mappings are sub-resources of it (path
        # /domainnames/{domain_name}/basepathmappings): they go with it, and a domain created
        # again under the same name starts without any. moto 5.2.5 keeps them.
        original_delete_domain(self, domain_name)
        self.base_path_mappings.pop(domain_name, None)

    APIGatewayBackend.delete_domain_name = delete_domain_name  # type: ignore[method-assign]

    original_delete_rest_api = APIGatewayBackend.delete_rest_api

    def delete_rest_api(self: APIGatewayBackend, function_id: str) -> Any:
        # AWS DeleteRestApi of an API that does not exist: NotFoundException (404).
        # moto 5.2.5 answers 500 (KeyError).
        # https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteRestApi.html
        if function_id not in self.apis:
            raise RestAPINotFound()
        return original_delete_rest_api(self, function_id)

    APIGatewayBackend.delete_rest_api = delete_rest_api  # type: ignore[method-assign]

    original_create_resource = APIGatewayBackend.create_resource

    def create_resource(self: APIGatewayBackend, function_id: str, parent_resource_id: str, path_part: str) -> Any:
        # AWS CreateResource of a path part its parent already has: ConflictException (409)
        # "Another resource with the same parent already has this name: <path_part>".
        # https://docs.aws.amazon.com/apigateway/latest/api/API_CreateResource.html (Errors:
        # ConflictException). moto 5.2.5 creates a second resource with the same path, so a
        # create retried after a lost answer leaves two `/health` resources.
        if path_part:
            api = self.get_rest_api(function_id)
            for resource in api.resources.values():
                if resource.parent_id == parent_resource_id and resource.path_part == path_part:
                    raise ConflictException(f"Another resource with the same parent already has this name: {path_part}")
        return original_create_resource(self, function_id, parent_resource_id, path_part)

    APIGatewayBackend.create_resource = create_resource  # type: ignore[method-assign]

    original_delete_usage_plan = APIGatewayBackend.delete_usage_plan
    original_delete_usage_plan_key = APIGatewayBackend.delete_usage_plan_key

    def delete_usage_plan(self: APIGatewayBackend, usage_plan_id: str) -> None:
        # AWS DeleteUsagePlan of a plan that does not exist: NotFoundException (404).
        # https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteUsagePlan.html
        # moto 5.2.5 answers 500 (KeyError), so a delete retried after a lost answer never
        # converged.
        if usage_plan_id not in self.usage_plans:
            raise UsagePlanNotFoundException()
        original_delete_usage_plan(self, usage_plan_id)
        # The plan's keys are sub-resources of it (/usageplans/{id}/keys).
        self.usage_plan_keys.pop(usage_plan_id, None)

    def delete_usage_plan_key(self: APIGatewayBackend, usage_plan_id: str, key_id: str) -> None:
        # AWS DeleteUsagePlanKey of a plan or key it does not have: NotFoundException (404).
        # https://docs.aws.amazon.com/apigateway/latest/api/API_DeleteUsagePlanKey.html
        # moto 5.2.5 answers 500 (KeyError).
        if key_id not in self.usage_plan_keys.get(usage_plan_id, {}):
            raise UsagePlanKeyNotFound()
        original_delete_usage_plan_key(self, usage_plan_id, key_id)

    APIGatewayBackend.delete_usage_plan = delete_usage_plan  # type: ignore[method-assign]
    APIGatewayBackend.delete_usage_plan_key = delete_usage_plan_key  # type: ignore[method-assign]
