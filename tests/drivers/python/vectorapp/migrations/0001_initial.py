# What `manage.py makemigrations` writes for models.py, with pgvector-python's
# VectorExtension() first, as its README says: on lodestone its
# CREATE EXTENSION IF NOT EXISTS "vector" creates lodestone under that name.
import pgvector.django
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        pgvector.django.VectorExtension(),
        migrations.CreateModel(
            name="Item",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("embedding", pgvector.django.VectorField(dimensions=3)),
                ("half_embedding", pgvector.django.HalfVectorField(dimensions=3, null=True)),
            ],
            options={
                "indexes": [
                    pgvector.django.HnswIndex(
                        ef_construction=64, fields=["embedding"], m=16, name="item_embedding_hnsw", opclasses=["vector_l2_ops"]
                    ),
                    pgvector.django.IvfflatIndex(
                        fields=["embedding"], lists=1, name="item_embedding_ivfflat", opclasses=["vector_l2_ops"]
                    ),
                    pgvector.django.HnswIndex(
                        fields=["half_embedding"], name="item_half_embedding_hnsw", opclasses=["halfvec_l2_ops"]
                    ),
                ],
            },
        ),
    ]
