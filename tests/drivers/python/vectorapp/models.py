# A model as pgvector-python's README writes one for Django.
from django.db import models
from pgvector.django import HalfVectorField, HnswIndex, IvfflatIndex, VectorField


class Item(models.Model):
    embedding = VectorField(dimensions=3)
    half_embedding = HalfVectorField(dimensions=3, null=True)

    class Meta:
        indexes = [
            HnswIndex(
                name="item_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_l2_ops"],
            ),
            IvfflatIndex(
                name="item_embedding_ivfflat",
                fields=["embedding"],
                lists=1,
                opclasses=["vector_l2_ops"],
            ),
            HnswIndex(
                name="item_half_embedding_hnsw",
                fields=["half_embedding"],
                opclasses=["halfvec_l2_ops"],
            ),
        ]
