"""The celery app of the workers (`chaffee cluster worker` runs `celery -A chaffee_assets.defs.celery_app
worker`): dagster-celery's step task, on the broker and with the settings the executor submits with."""

import logging

import celery
import dagster as dg
from dagster._grpc.types import ExecuteStepArgs
from dagster._serdes import unpack_value
from dagster_celery.config import TASK_EXECUTE_PLAN_NAME
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task
from kombu import Exchange, Queue

from chaffee_assets import runtime
from chaffee_assets.defs.executors import QUEUES, celery_config
from chaffee_assets.settings import get_settings

log = logging.getLogger(__name__)


class LiveRunsOnly(celery.Task):
    """Drops a step whose run has ended. A step a killed worker held goes back to the queue once the
    broker's visibility timeout passes; by then its run was reaped (marked failed) or re-run, and the
    step must not write its video's files again."""

    def __call__(self, *args, **kwargs):
        step = unpack_value(kwargs["execute_step_args_packed"], as_type=ExecuteStepArgs)
        with dg.DagsterInstance.from_ref(step.instance_ref) as instance:
            run = instance.get_run_by_id(step.run_id)
        if run is None or run.is_finished:
            log.warning(f"step {step.step_keys_to_execute} of run {step.run_id} dropped: the run has ended "
                        f"({run.status.value if run else 'deleted'})")
            return []
        return super().__call__(*args, **kwargs)


# The same CHAFFEE_HOME / DATABASE_URL as the submitting process give the same DAGSTER_HOME and database.
runtime.prepare(get_settings())
app = make_app(CeleryExecutor.for_cli(**celery_config(get_settings())).app_args())
# The executor publishes a step to exchange <queue> with routing key "<queue>.execute_plan": bind each
# queue under that key, or the broker finds no queue for the step and sets it aside as undeliverable.
app.conf.task_queues = [Queue(q, Exchange(q), routing_key=f"{q}.{TASK_EXECUTE_PLAN_NAME}") for q in QUEUES]
execute_plan = create_task(app, base=LiveRunsOnly)
