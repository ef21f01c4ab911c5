"""Storage tests need the moto S3 server; the root conftest will register it as a plugin later."""

from tests.fixtures.moto_server import moto_s3_endpoint, s3_bucket  # noqa: F401
