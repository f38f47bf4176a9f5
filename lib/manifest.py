metadata(description="Offline sensor logging to flash with batched, verified uploads to Blynk Cloud.", version="0.1.0")

package("blynklog")
