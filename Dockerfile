# finsent: multi-stage image on Debian 12.
#   build stage: compiles finsent with the Debian -dev packages
#   runtime stage: only the shared libraries, the binary, the shipped model,
#                  a non-root user. Nothing is downloaded at run time.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config git \
      librdkafka-dev libcurl4-openssl-dev libopenblas-dev libhiredis-dev libjansson-dev \
      libxml2-dev libuchardet-dev libutf8proc-dev libinih-dev libmicrohttpd-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DFINSENT_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/opt/finsent \
 && cmake --build /build -j"$(nproc)" --target finsent \
 && install -D -m 0755 /build/app/finsent /opt/finsent/bin/finsent \
 && mkdir -p /opt/finsent/share/finsent/models \
 && cp -r models/finsent-mini /opt/finsent/share/finsent/models/ \
 && cp -r web /opt/finsent/share/finsent/web

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      librdkafka1 libcurl4 libopenblas0-pthread libhiredis0.14 libjansson4 \
      libxml2 libuchardet0 libutf8proc2 libinih1 libmicrohttpd12 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent --shell /usr/sbin/nologin finsent
COPY --from=build /opt/finsent /opt/finsent
ENV PATH=/opt/finsent/bin:$PATH
USER finsent
EXPOSE 9464
# finsent finds its model in /opt/finsent/share/finsent/models/finsent-mini
# and the dashboard in /opt/finsent/share/finsent/web (next to the binary);
# mount a config at /etc/finsent/finsent.conf.
ENTRYPOINT ["finsent"]
CMD ["run", "-c", "/etc/finsent/finsent.conf"]
