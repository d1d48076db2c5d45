"""S3 fidelity fixes."""

from __future__ import annotations

from typing import Any

import moto.core.utils as core_utils

# Root elements of S3 answers that moto 5.2.5's serializer names `<Operation>Response`
# because its model extras (moto/s3/2006-03-01/service-2.moto-extras.json) lack them. The
# S3 API reference gives each answer's root element; strict clients (the AWS SDK for Rust)
# refuse any other.
RESULT_ROOTS = {
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html:
    # <VersioningConfiguration><Status>...</Status><MfaDelete>...</MfaDelete></VersioningConfiguration>
    "GetBucketVersioning": "VersioningConfiguration",
}


def _patch_service_model() -> None:
    original_load = core_utils._load_service_model

    def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
        model = original_load(service_name, model_name)
        if service_name == "s3" and model_name == "service-2":
            for operation, root in RESULT_ROOTS.items():
                model["operations"][operation]["output"]["resultWrapper"] = root
        return model

    core_utils._load_service_model = load_service_model
    core_utils.get_service_model.cache_clear()


def apply() -> None:
    _patch_service_model()
