# One image for every node. The release step and the server are the same
# scripts CI runs (bin/release, bin/start); this file only installs them.
#   docker build -t course-platform .
#   docker run --env-file .env course-platform bin/release   # once per deploy
#   docker run --env-file .env -p 8000:8000 course-platform  # each node
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# The admin's static files are part of the image: a platform's release phase
# runs in a throw-away container whose files the web nodes never see.
RUN DEBUG=False SECRET_KEY=collectstatic-at-build-time-only \
    python manage.py collectstatic --noinput

RUN useradd --system --no-create-home app
USER app

EXPOSE 8000
CMD ["bin/start"]
