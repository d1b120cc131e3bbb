"""The celery app of the workers (`chaffee cluster worker` runs `celery -A chaffee_assets.defs.celery_app
worker`): dagster-celery's step task, on the broker and with the settings the executor submits with."""

from dagster_celery.config import TASK_EXECUTE_PLAN_NAME
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task
from kombu import Exchange, Queue

from chaffee_assets import runtime
from chaffee_assets.defs.executors import QUEUES, celery_config
from chaffee_assets.settings import get_settings

# The same CHAFFEE_HOME / DATABASE_URL as the submitting process give the same DAGSTER_HOME and database.
runtime.prepare(get_settings())
app = make_app(CeleryExecutor.for_cli(**celery_config(get_settings())).app_args())
# The executor publishes a step to exchange <queue> with routing key "<queue>.execute_plan": bind each
# queue under that key, or the broker finds no queue for the step and sets it aside as undeliverable.
app.conf.task_queues = [Queue(q, Exchange(q), routing_key=f"{q}.{TASK_EXECUTE_PLAN_NAME}") for q in QUEUES]
execute_plan = create_task(app)
