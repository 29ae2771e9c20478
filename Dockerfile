FROM python:3.11-slim
RUN useradd --create-home --uid 10001 pcache
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER pcache
WORKDIR /home/pcache
EXPOSE 9000
ENTRYPOINT ["pcache", "serve", "--listen", "0.0.0.0:9000"]
