# One image for every role: creditrun api, worker, scheduler, all and the
# dataset generator (docker-compose.yml runs them).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/creditrun ./cmd/creditrun

FROM debian:bookworm-slim
# curl answers the healthchecks; ca-certificates reaches AWS over TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/creditrun /usr/local/bin/creditrun
RUN mkdir -p /var/lib/creditrun && chown 65532:65532 /var/lib/creditrun
USER 65532:65532
ENV CREDITRUN_DATA_DIR=/var/lib/creditrun
ENTRYPOINT ["creditrun"]
CMD ["--help"]
