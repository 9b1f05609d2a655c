import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_segmentation")]

    operations = [
        migrations.CreateModel(
            name='Annotation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('coco_id', models.PositiveBigIntegerField()),
                ('iscrowd', models.BooleanField(default=False)),
                ('segmentation', models.JSONField()),
                ('area', models.FloatField()),
                ('bbox_xywh', models.JSONField()),
                ('origin', models.CharField(choices=[('segmentation', 'Verified segmentation'), ('crowd', 'Crowd painting'), ('import', 'Imported COCO file')], max_length=20)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='annotations', to='annotation.category')),
                ('image', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to='annotation.image')),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to='annotation.project')),
                ('source_segmentation', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='annotation', to='annotation.segmentation')),
            ],
            options={
                'ordering': ['project_id', 'coco_id'],
                'indexes': [models.Index(fields=['image', 'category'], name='annotation__image_i_a67be6_idx')],
                'constraints': [models.UniqueConstraint(fields=('project', 'coco_id'), name='unique_annotation_id'), models.CheckConstraint(condition=models.Q(('coco_id__gte', 1)), name='annotation_id_ge_1')],
            },
        ),
    ]
