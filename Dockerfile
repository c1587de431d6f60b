# One image for every Codeswarm service; compose.yaml picks the command (codeswarm-router, -mirror, -web,
# or alembic for the one-shot migration).  State lives in /data (CODESWARM_HOME), owned by a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CODESWARM_HOME=/data

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a source change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project itself, editable: alembic.ini and migrations/ stay in /app, where the router finds them.
COPY . .
RUN pip install --no-deps -e . \
    && groupadd --system codeswarm \
    && useradd --system --gid codeswarm --home-dir /data --create-home --shell /usr/sbin/nologin codeswarm

USER codeswarm
VOLUME ["/data"]
EXPOSE 8765 8766 8000

CMD ["codeswarm-router"]
