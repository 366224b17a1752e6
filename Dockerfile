# The hub's image: the same code and pinned dependencies as the local run.
FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false GX_ANALYTICS_ENABLED=false
WORKDIR /app
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --no-cache-dir uv==0.13.9 && uv pip install --system --no-cache -r requirements/lock.txt
COPY . .
RUN uv pip install --system --no-cache --no-deps -e .
USER nobody
ENTRYPOINT ["onceonly"]
