# Multi-stage build of a static apigee-key-operator binary on distroless.
FROM golang:1.26 AS build
WORKDIR /src
# Cache module downloads in their own layer.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/apigee-key-operator ./cmd/apigee-key-operator

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/apigee-key-operator /apigee-key-operator
USER 65532:65532
ENTRYPOINT ["/apigee-key-operator"]
