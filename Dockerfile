# One image for the worker, the API and the migration; docker-compose.yml picks the command.
# Secrets arrive at run time (compose's env_file), never as ARG or ENV here, and
# .dockerignore keeps env files and the virtualenv out of the build context.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY cli ./cli
COPY store ./store
COPY worker.py ./
# Workers and the API keep their state in PostgreSQL, so the image needs no data directory.
# Bytecode compiled at build time: the workflow sandbox imports the workflow modules for
# every run, and PYTHONDONTWRITEBYTECODE would otherwise make each import a compile.
RUN pip install --no-cache-dir . && python -m compileall -q workflows && useradd --create-home aijobs

USER aijobs
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000", "--timeout-graceful-shutdown", "5"]
