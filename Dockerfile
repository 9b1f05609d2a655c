# One image for web, Celery worker and beat. The `models` service builds with
# --build-arg WITH_TORCH=1 (see docker-compose.yml).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends gcc libjpeg62-turbo zlib1g && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
ARG WITH_TORCH=0
RUN if [ "$WITH_TORCH" = "1" ]; then pip install --no-cache-dir torch==2.13.0; fi
COPY . .
# collectstatic needs settings but no secrets of the deployment (a throwaway random key:
# production settings refuse weak ones).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" DATABASE_URL=sqlite:////tmp/build.sqlite3 python manage.py collectstatic --noinput -v 0
RUN useradd --create-home cocoforge && chown -R cocoforge /app
USER cocoforge
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
